export * from './baresip.js';
export * from './browser.js';
export * from './linphonec.js';
