export * from './csv-sweep.js';
export * from './import-file.js';
export * from './wandb.js';
export * from './convert-file.js';
export * from './datadecide.js';
export * from './python-literal.js';
export * from './qa.js';
