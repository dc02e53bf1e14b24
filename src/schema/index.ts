export * from './enums.js';
export * from './evals.js';
export * from './render.js';
export * from './squiggle.js';
