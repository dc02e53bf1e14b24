export * from './descriptors.js';
export * from './dtw.js';
export * from './eigen.js';
export * from './gram.js';
