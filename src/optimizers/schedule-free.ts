// The evaluation/training swap shared by ScheduleFreeAdamW and ScheduleFreeSGD. Schedule-free
// training keeps y (where gradients are taken) in the variable and z in a slot; the point to
// evaluate at is x = (y - (1-b1) z) / b1. `evalParams` writes x into the variables, `trainParams`
// puts y back. y is kept in a private buffer while a variable holds x, so the round trip restores
// it bit for bit (recomputing y from x and z, as Keras' swap_to_train does, would round it).
import { Optimizer, type GradientVariablePair, type OptimizerState } from '../optimizer.js';
import { Variable } from '../variable.js';

/** Per-optimizer record of the variables that hold x, with the y each held before. */
class EvalPoint {
  /** Model variable -> its training point y, for the variables that hold x now. */
  private readonly saved = new Map<Variable, Variable>();
  /** Model variable -> its z slot, for every variable the optimizer built. */
  private readonly zOf = new Map<Variable, Variable>();

  constructor(private readonly owner: string) {}

  /** Records the z slot of a variable just built. */
  track(variable: Variable, z: Variable): void {
    this.zOf.set(variable, z);
  }

  /** Whether any variable holds x (the optimizer is in evaluation mode). */
  get active(): boolean {
    return this.saved.size !== 0;
  }

  /** Throws when any variable holds x: the optimizer's step and checkpoints need y. */
  checkTrain(what: string): void {
    if (this.saved.size === 0) return;
    this.forgetDisposed();
    if (this.saved.size === 0) return;
    const first = this.saved.keys().next().value as Variable;
    throw new Error(
      `${this.owner}.${what}: ${this.saved.size} variable(s) hold the evaluation point x ('${first.name}'${this.saved.size > 1 ? ', ...' : ''}) since evalParams(); call trainParams() first`,
    );
  }

  /**
   * The variables to swap: the ones given (checked: alive Variables, read once), or every
   * variable built, when `variables` is undefined. Variables this optimizer has not built are left
   * out: their z is still a copy of y, so x equals y.
   */
  private select(where: string, variables: unknown): Variable[] {
    this.forgetDisposed();
    if (variables === undefined) return [...this.zOf.keys()];
    if (!Array.isArray(variables)) throw new TypeError(`${where}: variables must be an array of Variables (or omitted for all)`);
    const list = [...(variables as unknown[])];
    list.forEach((v, i) => {
      if (!(v instanceof Variable)) throw new TypeError(`${where}: variables[${i}] must be a Variable`);
      if (v.disposed) throw new Error(`${where}: variables[${i}]: variable '${v.name}' was disposed`);
    });
    return (list as Variable[]).filter((v, i) => this.zOf.has(v) && list.indexOf(v) === i);
  }

  /**
   * Writes x into each selected variable that holds y (the others are left alone: idempotent).
   * Every buffer is allocated before the first write: on error nothing changed.
   */
  toEval(where: string, variables: unknown, omb1: number, b1: number): void {
    const todo = this.select(where, variables).filter((v) => !this.saved.has(v));
    const buffers: Variable[] = [];
    try {
      for (const v of todo) buffers.push(Variable.zeros(v.shape, { name: `${v.name}/train_point` }, v.heap));
    } catch (e) {
      for (const b of buffers) b.dispose();
      throw e;
    }
    todo.forEach((v, i) => {
      const K = v.heap.kernels;
      K.copy(buffers[i].ptr, v.ptr, v.size);
      K.scheduleFreeEval(v.ptr, (this.zOf.get(v) as Variable).ptr, v.size, omb1, b1);
      this.saved.set(v, buffers[i]);
    });
  }

  /** Puts y back into each selected variable that holds x (the others are left alone: idempotent). */
  toTrain(where: string, variables: unknown): void {
    const todo = variables === undefined ? [...this.saved.keys()] : this.select(where, variables).filter((v) => this.saved.has(v));
    for (const v of todo) {
      const y = this.saved.get(v) as Variable;
      if (!v.disposed) v.heap.kernels.copy(v.ptr, y.ptr, v.size);
      y.dispose();
      this.saved.delete(v);
    }
  }

  /** Drops variables (and z slots) disposed since: a rolled-back build, released variables. */
  private forgetDisposed(): void {
    for (const [v, z] of this.zOf) if (v.disposed || z.disposed) this.zOf.delete(v);
    for (const [v, y] of this.saved) {
      if (v.disposed) {
        y.dispose();
        this.saved.delete(v);
      }
    }
  }

  /** Frees every saved y (the optimizer is disposed). */
  dispose(): void {
    for (const y of this.saved.values()) y.dispose();
    this.saved.clear();
    this.zOf.clear();
  }
}

/**
 * What ScheduleFreeAdamW and ScheduleFreeSGD share: the z slot's bookkeeping, `evalParams` /
 * `trainParams`, and the refusal to step or checkpoint while the variables hold x.
 */
export abstract class ScheduleFreeOptimizer extends Optimizer {
  private readonly point = new EvalPoint(this.getClassName());

  /** The float32 (1 - beta1) and beta1 of the evaluation point, as the authority computes them. */
  protected abstract evalCoefficients(): { omb1: number; b1: number };

  /** Creates the z slot `name` of each variable, starting as a copy of it (unless restored). */
  protected buildZ(variables: readonly Variable[], name: string): void {
    for (const v of variables) {
      const z = this.addVariableFromReference(v, name);
      if (!this.restoredFromState(z)) v.heap.kernels.copy(z.ptr, v.ptr, v.size);
      this.point.track(v, z);
    }
  }

  /**
   * Writes the evaluation point x = (y - (1-beta1) z) / beta1 into `variables` (default: every
   * variable this optimizer has built; the others are unchanged, their x is y). Idempotent: a
   * variable that holds x already is left alone. Until `trainParams()`, applyGradients and the
   * checkpoints (getState, saveState, setState, loadState) throw.
   */
  evalParams(variables?: readonly Variable[]): void {
    this.checkAlive('evalParams');
    this.checkIdle('evalParams');
    const { omb1, b1 } = this.evalCoefficients();
    this.point.toEval(`${this.getClassName()}.evalParams`, variables, omb1, b1);
  }

  /** Puts back, bit for bit, the training point y that `evalParams` saved (default: every variable). Idempotent. */
  trainParams(variables?: readonly Variable[]): void {
    this.checkAlive('trainParams');
    this.checkIdle('trainParams');
    this.point.toTrain(`${this.getClassName()}.trainParams`, variables);
  }

  /** True while any variable holds the evaluation point (after evalParams, until trainParams). */
  get holdsEvalParams(): boolean {
    return this.point.active;
  }

  override applyGradients(pairs: readonly GradientVariablePair[]): number {
    this.point.checkTrain('applyGradients');
    return super.applyGradients(pairs);
  }

  override getState(): OptimizerState {
    this.point.checkTrain('getState');
    return super.getState();
  }

  override setState(state: OptimizerState, variables?: readonly Variable[]): void {
    this.point.checkTrain('setState');
    super.setState(state, variables);
  }

  override dispose(): void {
    super.dispose();
    this.point.dispose();
  }
}
