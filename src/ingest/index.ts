export * from './csv-sweep.js';
export * from './import-file.js';
export * from './wandb.js';
export * from './convert-file.js';
