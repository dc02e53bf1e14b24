export { checkToken } from './auth.js';
export {
  type GeometryRequest,
  type GeometryTrajectory,
  geometryOfRun,
  type LakeSummary,
  lakeSummary,
  listRuns,
  matchesOf,
  numberParam,
  SERVED_GEOMETRY_DESCRIPTORS,
} from './dashboard-queries.js';
export {
  BadRequestError,
  type ErrorResponse,
  errorResponse,
  ForbiddenQueryError,
  NotFoundError,
  QueryTimeoutError,
  UnauthorizedError,
} from './errors.js';
export {
  type MetricGroup,
  type MetricGroupRequest,
  type MetricRequest,
  type MetricSeries,
  metricGroups,
  metricNames,
  metricSeries,
} from './metric-queries.js';
export { duckdbRefusal, prepareReadOnly, statementTypeName } from './query-guard.js';
export { type QueryLimits, type QueryResult, runReadOnlyQuery } from './query-runner.js';
export {
  type JsonQueryResult,
  METRIC_SERIES_METADATA,
  metricSeriesToArrow,
  resultToArrow,
  resultToJson,
} from './result-encoding.js';
export { openSandboxedLake, type SandboxOptions } from './sandbox.js';
export {
  type Band,
  bandOf,
  type ColumnMeans,
  emaSmooth,
  meanPerColumn,
  minMaxPerColumn,
  type PixelGrid,
  pixelColumn,
  pixelGridOf,
  type StepSeries,
} from './series-reduce.js';
export {
  API_ENDPOINTS,
  ARROW_STREAM_TYPE,
  createServer,
  type ListenOptions,
  type RunlakeServer,
  type StartedServer,
  startServer,
} from './server.js';
export { contentTypeOf, defaultWebRoot, staticFile } from './static-files.js';
