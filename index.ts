/**
 * weft: compose AI operators as plain decorated TypeScript functions.
 *
 * This entry is the whole public API; everything else is internal.
 *
 * @example
 * ```ts
 * import { op, Module, getContext } from "weft";
 * const tokenize = op({ kind: "cpu" }, (text: string): string[] => text.toLowerCase().split(/\W+/));
 * console.log(await tokenize("Hello, world"));
 * ```
 */

// Ops and composition.
export { op, type Op, type OpFailure, type WithOptions, type OpMethodDecorator } from "./decorators/op.js";
export { Module, Sequential, type Step, type OpMethods } from "./decorators/module.js";
export { describeOp } from "./runtime/registry.js";
export { jit, cond, map, type Jitted, type JitMethodDecorator, type JitWithOptions } from "./decorators/jit.js";
export type { JitOptions, JitInspection } from "./runtime/jit.js";
export { TraceError } from "./compiler/trace-error.js";
export { vmap, type VmapOptions, type VmappedFn, type Batched, type VmapResult } from "./decorators/vmap.js";
export type { ItemResult, BatchProgress } from "./runtime/batch.js";

// Context, settings and events.
export { getContext, withContext, type OpContext, type ContextOptions } from "./runtime/context.js";
export { configure, type RuntimeSettings } from "./runtime/settings.js";
export { loadManifest, StaleManifestError } from "./runtime/manifest.js";
export { configureWorkers, closeWorkers, type PoolOptions } from "./runtime/workers/pool.js";
export { WorkerRefused } from "./runtime/workers/protocol.js";
export { registerExecutor, type Executor, type Work as ExecutorWork, type ChunkResult } from "./runtime/executor.js";
export { inlineExecutor } from "./runtime/executors.js";
export { subscribe, type RuntimeEvent } from "./runtime/events.js";
export { traceRecorder, renderWaterfall } from "./runtime/deferred.js";
export type { TraceRecorder, ExportedSpan } from "./runtime/trace/recorder.js";
export type { TraceSpan, TraceEvent, RecordedTrace, WaterfallOptions } from "./runtime/trace/view.js";

// Config, credentials, logs, metrics and health.
export { getConfig, setConfig, unsetConfig, ConfigError, type ConfigKey, type ConfigValue, type ConfigLayer } from "./runtime/config/config.js";
export type { WeftConfig, ModelsConfig, ProviderConfig, DurableConfig, LogConfig, MetricsConfig } from "./runtime/config/types.js";
export { credential, setCredential, type CredentialSource } from "./runtime/config/credentials.js";
export { Secret } from "./runtime/config/secret.js";
export { log, configureLog, type LogLevel, type LogRecord, type LogSink, type LogSettings } from "./runtime/log.js";
export { enableMetrics, disableMetrics, prometheusMetrics, type MetricsOptions, type PrometheusMetrics } from "./runtime/metrics.js";
export { health, registerHealthCheck } from "./runtime/deferred.js";
export type { HealthReport, HealthCheck, HealthOptions } from "./runtime/health.js";

// Model calls: providers, usage and cost, rate limits.
export { models, type Models, type ModelInstance, type ModelResult, type ModelStreamEvent, type ModelCallOptions, type ObjectOptions, type EmbedOptions, type Prompt, type CallUsage, type Tracked, type Usage, type UsageReport } from "./runtime/models/models.js";
export type { ModelProvider, Capabilities, Message, GenerateRequest, GenerateResponse, StreamEvent, EmbedRequest, EmbedResponse, TokenUsage, RateLimits, Price, ModelClock } from "./runtime/models/provider.js";
export { localProvider, hashedEmbedding } from "./runtime/deferred.js";
export type { LocalOptions } from "./runtime/models/local.js";
export { openaiCompatible, aiSdkProvider } from "./runtime/models/providers.js";
export type { OpenAICompatibleOptions } from "./runtime/models/openai.js";
export type { AiSdkProviderOptions, AiSdkLanguageModel, AiSdkEmbeddingModel } from "./runtime/models/ai-sdk.js";
export { ProviderError, BudgetExceeded, type Budget } from "./runtime/models/errors.js";

// Streams: pull-based pipelines with bounded buffers, loaders, dead letters and lineage.
export { data, Stream, Loader } from "./runtime/deferred.js";
export type { Data, StreamOptions, StreamProgress, StreamSummary, StreamDeadLetter, Traced, Sink, Source } from "./runtime/stream/index.js";
export type { MapOptions, BatchStageOptions, BufferOptions, BufferStrategy, ThroughOptions, Many, CsvOptions, FilesOptions, FileEntry, ProgressBarOptions, ProgressOutput } from "./runtime/stream/index.js";
export { MalformedRecord, StreamItemError } from "./runtime/stream/errors.js";

// Durable runs, result caches, dead letters and approvals.
export { durable, type DurableOptions } from "./runtime/durable/index.js";
export { configureDurable, closeDurable, type DurableSettings, type ApprovalPolicy, type ApprovalVerdict, type Clock } from "./runtime/durable/index.js";
export { listRuns, deadLetters, replayDeadLetters, approvals, decide, type RunSummary, type DeadLetter, type Decision } from "./runtime/durable/index.js";
export { cacheStats, clearCache, type CacheStats } from "./runtime/durable/index.js";
export { MemoryStore, type DurableStore, type RunStatus, type ApprovalRecord } from "./runtime/durable/index.js";
export { SqliteStore, RedisStore } from "./runtime/deferred.js";
export type { SqliteStoreOptions } from "./runtime/durable/sqlite.js";
export { type Awaitable, type Acquired, type RunRecord, type JournalRecord, type DeadLetterRecord } from "./runtime/durable/index.js";
export { UnstorableValue, RunLocked, LeaseLost, RunVersionMismatch, ApprovalDenied, ApprovalRequired } from "./runtime/durable/index.js";
export type { RedisStoreOptions } from "./runtime/durable/redis.js";

// Scale-out: steps as BullMQ jobs on Redis, served by `weft worker` processes.
export { BullMQExecutor, startWorker } from "./runtime/deferred.js";
export type { BullMQExecutorOptions, RemoteWorkerInfo } from "./runtime/remote/executor.js";
export type { RemoteWorker, RemoteWorkerOptions } from "./runtime/remote/worker.js";
export { RemoteRefused } from "./runtime/remote/protocol.js";
export type { RedisTarget } from "./runtime/remote/connection.js";

// Errors.
export { WeftError, OpError, ValidationError, DeadlineExceeded, Cancelled, WorkerCrashed, BatchItemError, type ValidationIssue } from "./runtime/errors.js";
export { registerSecret } from "./runtime/redact.js";

// Descriptor and policy types.
export type {
  OpDescriptor,
  OpOptions,
  OpPolicy,
  OpKind,
  RetryPolicy,
  BackoffPolicy,
  DurationInput,
  Placement,
  JsonSchema,
  ParamInfo,
  OpLocator,
  NativeBatch,
  BatchPolicy,
  CachePolicy,
  Risk,
} from "./decorators/descriptor.js";
