export { checkToken } from './auth.js';
export { checkSite, isLoopbackHost, type SitePolicy } from './cross-site.js';
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
  AnswerTooLargeError,
  answerErrorsAsJson,
  BadRequestError,
  CrossSiteError,
  type ErrorResponse,
  errorResponse,
  ForbiddenQueryError,
  MemoryBudgetError,
  NotFoundError,
  PayloadTooLargeError,
  QueryTimeoutError,
  RemoteError,
  ServiceUnavailableError,
  UnauthorizedError,
} from './errors.js';
export { BATCH_CONTENT_TYPE, DEFAULT_MAX_BATCH_BYTES, ingestRoutes } from './ingest-routes.js';
export { type IngestSocket, type IngestSocketOptions, listenIngestSocket } from './ingest-socket.js';
export {
  type BoundSelect,
  columnMeans,
  compareKeys,
  type MetricGroup,
  type MetricGroupRequest,
  type MetricRequest,
  type MetricSeries,
  metricGroups,
  metricNames,
  metricSeries,
  metricsScalarSource,
  type PointSource,
  reducedSeries,
  type SeriesRequest,
  X_AXES,
  type XAxis,
} from './metric-queries.js';
export {
  ALLOWED_TABLE_FUNCTIONS,
  duckdbRefusal,
  prepareReadOnly,
  REFUSED_SCALAR_FUNCTIONS,
  statementTypeName,
} from './query-guard.js';
export { QueryProcess, type QueryProcessOptions } from './query-process.js';
export {
  approximateBytes,
  type QueryLimits,
  type QueryResult,
  type QueryTarget,
  runReadOnlyQuery,
} from './query-runner.js';
export {
  type JsonQueryResult,
  METRIC_SERIES_METADATA,
  metricSeriesToArrow,
  resultToArrow,
  resultToJson,
} from './result-encoding.js';
export { openSandboxedLake, type SandboxedLake, type SandboxOptions } from './sandbox.js';
export {
  alignExtremes,
  type Band,
  bandOf,
  type ColumnExtremes,
  type ColumnMeans,
  emaSmooth,
  extremesPerColumn,
  meanPerColumn,
  minMaxPerColumn,
  type PixelGrid,
  pixelColumn,
  pixelGridOf,
  SMOOTHING_KINDS,
  type SmoothingKind,
  type StepSeries,
  smoothingWindow,
  smoothSeries,
} from './series-reduce.js';
export {
  API_ENDPOINTS,
  ARROW_STREAM_TYPE,
  createServer,
  INGEST_PREFIX,
  type ListenOptions,
  type RunlakeServer,
  SERVER_LIMIT_DEFAULTS,
  type StartedServer,
  startServer,
} from './server.js';
export { contentTypeOf, defaultWebRoot, staticFile } from './static-files.js';
export {
  SWEEP_X_CANDIDATES,
  type SweepColumn,
  type SweepCurveRequest,
  type SweepGridRow,
  type SweepGridsRequest,
  type SweepGroup,
  type SweepParam,
  type SweepSeries,
  type SweepSummary,
  sweepCurves,
  sweepGrids,
  sweepSummary,
} from './sweep-queries.js';
