// The optax optimizers (Adan, AdEMAMix, Prodigy) apply their weight decay inside the update, where
// optax's chain puts it (`add_decayed_weights` between the scaling and the learning rate: the
// update becomes u + wd*w, then w -= lr*(u + wd*w)), not as the base class's decoupled step
// w -= w*wd*lr before it: the same math, other float32 roundings. This class takes `weightDecay`
// away from the base class, keeps it as an option of its own (same name, rule, schedule and
// config), and tells the kernel call whether and how much to decay each variable.
import { Optimizer, type OptimizerOptions } from '../optimizer.js';
import { type ScheduledOption } from '../hyperparameter.js';
import { type LearningRateSchedule } from '../schedules/schedule.js';
import { type Config } from '../registry.js';
import { checkNumber, checkOptions, describeValue } from '../validate.js';
import { type Variable } from '../variable.js';

export abstract class OptaxDecayOptimizer extends Optimizer {
  private readonly decayOption: ScheduledOption;

  /**
   * `scheduled`: whether optax's argument takes a schedule (Prodigy's does not);
   * `learningRate`: the default learning rate when it is not the base class's (Prodigy's 1).
   */
  constructor(options: OptimizerOptions, scheduled: boolean, learningRate?: number) {
    const name = (new.target as unknown as { readonly className: string }).className;
    // Read once: the base class sees the copy without the option, this class the copied value.
    const { weightDecay, ...rest } = { ...checkOptions(name, options) };
    if (learningRate !== undefined) rest.learningRate ??= learningRate;
    super(rest);
    const value: unknown = weightDecay ?? 0;
    if (!scheduled && typeof value !== 'number') {
      throw new TypeError(`${name}: weightDecay must be a finite number >= 0 (optax's takes no schedule), got ${describeValue(value)}`);
    }
    if (!scheduled) checkNumber(`${name}: weightDecay`, value, { min: 0, float32: true });
    this.decayOption = this.scheduledOption('weightDecay', value, { min: 0 });
  }

  /** Default 0 (off); applied inside the update as optax does (see the class's doc comment). */
  override get weightDecay(): number | null {
    return this.optionValue(this.decayOption);
  }

  /** The schedule (or function of the step) given as weightDecay, if any. */
  override get weightDecaySchedule(): LearningRateSchedule | ((step: number) => number) | null {
    return this.optionSchedule(this.decayOption);
  }

  /** This step's weight decay (a schedule's value is resolved at the start of the step). */
  protected stepWeightDecay(): number {
    return this.decayOption.value;
  }

  /**
   * Whether optax's `add_decayed_weights` changes `variable`'s update this step: not for a
   * variable excluded with `excludeFromWeightDecay` (optax's mask), and not for a constant 0
   * (optax skips it; a schedule is always applied, even where it is 0).
   */
  protected appliesDecay(variable: Variable): boolean {
    return (this.decayOption.scheduled || this.decayOption.value !== 0) && this.decaysVariable(variable);
  }

  override getConfig(): Config {
    return { ...super.getConfig(), weightDecay: this.decayOption.config() };
  }
}
