import { RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import { Construct } from "constructs";
import { ENV } from "../../core/control/env-names.ts";

export interface TeamSchedulesProps {
  /** The api function: creates, updates and deletes the schedules, and is their target. */
  api: lambda.Function;
  /** The team table: pruning a schedule's history deletes a run's events in batches. */
  table: dynamodb.ITableV2;
}

/**
 * AgentTeamSchedule in AWS: the group the api function keeps one EventBridge Scheduler schedule
 * in per Squadron schedule (core/schedules/timers.ts), and the role those schedules assume to
 * invoke the api function with the fire (core/schedules/fire.ts). No function polls a clock.
 */
export class TeamSchedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: TeamSchedulesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.group = new scheduler.ScheduleGroup(this, "Group", {
      scheduleGroupName: `${stack.stackName}-team-schedules`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const schedules = stack.formatArn({
      service: "scheduler",
      resource: "schedule",
      resourceName: `${this.group.scheduleGroupName}/*`,
    });
    // Scheduler assumes it only for this account's schedules of this group. Confused-deputy
    // prevention per the Scheduler user guide ("Set up the execution role", revised 2023-09-07:
    // aws:SourceArn is the schedule GROUP's ARN, aws:SourceAccount the account).
    this.role = new iam.Role(this, "SchedulerRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: {
            "aws:SourceAccount": stack.account,
            "aws:SourceArn": this.group.scheduleGroupArn,
          },
        },
      }),
      description: "EventBridge Scheduler invokes the api function with AgentTeamSchedule fires",
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [props.api.functionArn] }),
    );

    // historyLimit: TeamStore.removeRun deletes a pruned run's event items with BatchWriteItem.
    props.api.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["dynamodb:BatchWriteItem"], resources: [props.table.tableArn] }),
    );
    props.api.addEnvironment(ENV.teamScheduleGroup, this.group.scheduleGroupName);
    props.api.addEnvironment(ENV.teamSchedulerRole, this.role.roleArn);
    props.api.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"],
        resources: [schedules],
      }),
    );
    props.api.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["iam:PassRole"],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
      }),
    );
  }
}
