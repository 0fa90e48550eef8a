export { startStatusServer, type StatusServer, type StatusServerOptions, type StatusServerTls } from './status-server.js';
export { createStatusRequestHandler, type StatusRoutesOptions, type Unblock } from './routes.js';
export { renderMetrics, metricName, PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export { renderStatusPage, escapeHtml, formatUptime, STATUS_PAGE_REFRESH_SECONDS } from './status-page.js';
export { carriesAdminToken, ADMIN_CHALLENGE } from './admin-auth.js';
