export * from './convert-file.js';
export * from './csv-sweep.js';
export * from './datadecide.js';
export * from './exp-engine-params.js';
export * from './import-file.js';
export * from './python-literal.js';
export * from './qa.js';
export * from './wandb.js';
