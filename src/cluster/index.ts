/**
 * I/O to a running MetalK8s cluster: {@link connect} and the Solution lifecycle
 * (`cluster.solutions`, `cluster.environments`), the node lifecycle (`cluster.nodes`), the
 * platform services (`cluster.metrics`, `cluster.alerts`, `cluster.dashboards`, `cluster.logs`,
 * `cluster.health()`), the SaltAPI client and Salt result readers, and diagnostics
 * (`preflight()`, `supportBundle()`, `doctor()`).
 *
 * @module
 */
export * from './salt-api.js';
export {
  describeFailure,
  firstFailedStep,
  type SaltStateRun,
  type SaltStateStep,
  type SaltStepFailure,
  stateRuns,
} from './salt-results.js';
export { type SaltApiEnv, saltApiFromEnv } from './salt-api-env.js';
export {
  type Cluster,
  connect,
  type ConnectOptions,
  type ConnectSaltApi,
  type ConnectSsh,
  type ServiceEndpoint,
  type ServiceRoute,
  type ServicesOptions,
} from './connect.js';
export { connectPlatform, type ConnectPlatformOptions, type KubeconfigSource, type PlatformServices } from './platform.js';
export {
  type ActivateOptions,
  type ActivateResult,
  type DeactivateOptions,
  type DeactivateResult,
  type ImportOptions,
  type ImportResult,
  type LifecycleCallOptions,
  type LifecycleProgressEvent,
  type RemoveOptions,
  type RemoveResult,
  type SolutionInfo,
  SolutionsApi,
  type SolutionVersionInfo,
} from './solutions.js';
export {
  type AddSolutionOptions,
  type AddSolutionResult,
  type CreateEnvironmentOptions,
  type DeleteEnvironmentOptions,
  type DeleteEnvironmentResult,
  type EnvironmentInfo,
  EnvironmentsApi,
  type RemoveSolutionOptions,
  type RemoveSolutionResult,
  type UpgradeSolutionOptions,
  type UpgradeSolutionResult,
} from './environments.js';
export {
  type CordonOptions,
  type CordonResult,
  type DeclareOptions,
  type DeclareResult,
  DEFAULT_LISTENERS,
  type DeployOptions,
  type DeployResult,
  type DeployState,
  type DeployStep,
  DrainError,
  type DrainOptions,
  type DrainProgressEvent,
  type DrainResult,
  type DrainSettings,
  type ListenersPerRole,
  type MetalK8sRole,
  type NetworksPillar,
  type NodeCallOptions,
  type NodeDeclaration,
  NodeDeployError,
  type NodeInfo,
  type NodeManifest,
  nodeManifest,
  type NodeProgressEvent,
  type NodeRole,
  NodesApi,
  type NodeSsh,
  type PreflightCheck,
  type PreflightOptions,
  type PreflightResult,
  type PreflightSettings,
  type PreflightStatus,
  type RemoveNodeOptions,
  type RemoveNodeResult,
  roleLabelsAndTaints,
  type UncordonOptions,
  type UncordonResult,
} from './nodes.js';
export * from './redaction.js';
export {
  alertmanagerSource,
  type AlertSource,
  type CollectionProblem,
  type CollectOptions,
  type CollectProgressEvent,
  type ContainerLog,
  type DiagnosticsSnapshot,
  type DiagnosticsTarget,
  type EnvironmentRecord,
  type FiringAlert,
  type ImageCheck,
  type SaltJobRecord,
  type SnapshotScope,
} from './diagnostics-snapshot.js';
export * from './support-bundle.js';
export {
  type Analyzer,
  defineAnalyzer,
  doctor,
  type DoctorFinding,
  type DoctorOptions,
  type DoctorResult,
  type Finding,
  type FindingSeverity,
} from './doctor.js';
export * from './preflight.js';
export {
  assertPromql,
  type Labels,
  type LabelsOptions,
  type EnvironmentSelectorOptions,
  type MatrixSeries,
  MetricsApi,
  type MetricsCallOptions,
  type PrometheusAlert,
  type PrometheusRule,
  type PromTime,
  type QueryOptions,
  type QueryRangeOptions,
  type QueryResult,
  type RuleGroup,
  type RulesOptions,
  type SamplePoint,
  type ScrapeTarget,
  selector,
  type SelectorOptions,
  type SeriesOptions,
  type TargetsOptions,
  type VectorSample,
} from './metrics.js';
export * from './alerts.js';
export { type DashboardInfo, DashboardsApi, type ListDashboardsOptions } from './dashboards.js';
export {
  type ContainerLogLine,
  type ContainerLogsOptions,
  logql,
  type LogqlOptions,
  LogsApi,
  LokiApi,
  type LokiCallOptions,
  type SolutionPod,
  type SolutionPodsOptions,
  type LokiEntry,
  type LokiLabels,
  type LokiLabelsOptions,
  type LokiQueryOptions,
} from './logs.js';
export type { CheckStatus, HealthAlert, HealthCheck, HealthOptions, HealthReport } from './health.js';
export type { AvailableEntry } from './_lifecycle.js';
