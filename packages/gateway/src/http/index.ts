export { startHttpsServer, type HttpsServer, type HttpsServerOptions, type HttpsServerTls } from './https-server.js';
export { createStatusRequestHandler, type StatusRoutesOptions, type Unblock } from './routes.js';
export { createSetFacingRequestHandler } from './set-facing.js';
export { renderMetrics, metricName, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export { renderStatusPage, escapeHtml, formatUptime, STATUS_PAGE_REFRESH_SECONDS } from './status-page.js';
export { carriesAdminToken, ADMIN_CHALLENGE } from './admin-auth.js';
export { ensureAdminToken } from './admin-token.js';
