export * from './descriptors.js';
export * from './dtw.js';
export * from './eigen.js';
export * from './gram.js';
export * from './match.js';
export * from './signatures.js';
export * from './similarity.js';
export * from './dynamics.js';
