// Placeholder until the bundles (browser/edge ESM, inline entry) are built here.
