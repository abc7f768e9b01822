/** vitest setup file: records AWS calls when SQUADRON_AWS_CALL_LOG is set (see aws-call-recorder.ts). */
import { installAwsCallRecorder } from "./aws-call-recorder.ts";

await installAwsCallRecorder();
