/**
 * The manifest model of Squadron: parse YAML/JSON into the normalized types of types.ts,
 * validate (every problem at once), merge templates with runs, build one-agent task teams and
 * serialize back. Functions that can fail throw only ManifestError, or ManifestOptionsError when
 * the options they are given (a deployment's limits and defaults) are themselves invalid.
 */

export {
  type AnnotatedApproval,
  APPROVAL_ANNOTATION_PREFIXES,
  annotatedApprovals,
} from "./approval-annotations.ts";
export { DEFAULTS } from "./defaults.ts";
export { formatDuration, parseDuration, tryParseDuration } from "./duration.ts";
export { isDnsLabel } from "./fields.ts";
export { formatPath, ManifestError } from "./issues.ts";
export { mergeTemplateRun, TEMPLATE_ANNOTATION } from "./merge.ts";
export {
  checkManifestDefaults,
  DEFAULT_MAX_PROMPT_BYTES,
  DEFAULT_MAX_TEAMMATES,
  type DefaultsLabels,
  type ManifestDefaults,
  type ManifestOptions,
  ManifestOptionsError,
  parseManifestDefaults,
} from "./options.ts";
export { type ParseResult, parseManifests, parseResource, parseTeam } from "./parse.ts";
export {
  allApprovalGates,
  effectiveDependsOn,
  STAGE_GATE_PREFIX,
  stageGateEvent,
  stageGateOf,
  stagesInOrder,
} from "./pipeline.ts";
export { type OutputFormat, serializeResource, serializeResources } from "./serialize.ts";
export { type TaskTeamOptions, teamFromTask } from "./task.ts";
export * from "./types.ts";
export { normalizeResource, type ValidationResult, validateResource } from "./validate.ts";
