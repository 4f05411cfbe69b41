/**
 * spec.notifications: which receivers (configured in a bluegreen-notifications ConfigMap, see
 * src/bluegreen/notify/payload.ts) hear about this BGD's rollouts, and which transitions.
 */
import { type Static, Type } from "@sinclair/typebox";
import { StringEnum } from "./schema-helpers.ts";

export const NOTIFICATION_EVENTS = [
  "RolloutStarted",
  "AwaitingPromotion",
  "Promoted",
  "GateFailed",
  "Aborted",
  "SwitchedBack",
  "RolledBack",
  "Completed",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const NotificationsSpec = Type.Object(
  {
    receivers: Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
      minItems: 1,
      maxItems: 8,
      description:
        "Names of receivers in the bluegreen-notifications ConfigMap of the BGD's namespace or, failing that, of the operator's namespace.",
    }),
    events: Type.Optional(
      Type.Array(StringEnum(NOTIFICATION_EVENTS), {
        maxItems: NOTIFICATION_EVENTS.length,
        description: `The transitions announced (default all): ${NOTIFICATION_EVENTS.join(", ")}.`,
      }),
    ),
  },
  { description: "Webhook notifications of this BGD's rollouts." },
);

export type NotificationsSpec = Static<typeof NotificationsSpec>;
