export * from './tfjs/index.ts';
