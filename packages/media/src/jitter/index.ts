export { JitterBuffer, type JitterBufferOptions, type JitterFrame, type JitterFrameStatus, type JitterPushResult, type JitterStats } from './jitter-buffer.js';
