export { BundleError, writeDefaultConfig } from './bundle.js';
