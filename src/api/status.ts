/** The status of a BlueGreenDeployment: what the operator observed and did. Written only by the operator. */
import { type Static, Type } from "@sinclair/typebox";
import { GatesStatus } from "./gate-status.ts";
import { StringEnum } from "./schema-helpers.ts";

export const COLORS = ["blue", "green"] as const;
export const PHASES = [
  "Initializing",
  "Progressing",
  "AwaitingPromotion",
  "Promoting",
  "Verifying",
  "Stable",
  "Paused",
  "Aborted",
  "Degraded",
] as const;

export const TRIGGERS = ["FirstDeployment", "Approval", "AutoPromotion", "Rollback", "Recorded"] as const;

const Color = (description: string) => StringEnum(COLORS, { description });
const DateTime = (description: string) => Type.String({ format: "date-time", description });
const Count = (description: string) => Type.Integer({ format: "int32", minimum: 0, description });

export const ColorStatus = Type.Object({
  revision: Type.Optional(Type.String({ description: "The revision this color's Deployment runs." })),
  image: Type.Optional(Type.String({ description: "Its container images, comma-separated." })),
  replicas: Count("Its pods."),
  readyReplicas: Count("Its ready pods."),
  role: StringEnum(["active", "preview", "idle"] as const, { description: "What the color does now." }),
});

/** metav1.Condition, with the upstream validation. */
export const Condition = Type.Object({
  type: Type.String({ maxLength: 316, description: "Available, Progressing, Promoted, Degraded, ..." }),
  status: StringEnum(["True", "False", "Unknown"] as const),
  observedGeneration: Type.Optional(Type.Integer({ format: "int64", minimum: 0 })),
  lastTransitionTime: DateTime("When status last changed."),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
  }),
  message: Type.String({ maxLength: 32768 }),
});

export const BlueGreenDeploymentStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ format: "int64", description: "The generation acted on." }),
    ),
    phase: Type.Optional(StringEnum(PHASES, { description: "Where the rollout is." })),
    message: Type.Optional(Type.String({ description: "What is happening or wrong, for people." })),
    activeColor: Type.Optional(Color("The color the active Service selects.")),
    previewColor: Type.Optional(Color("The color the preview Service selects.")),
    activeRevision: Type.Optional(Type.String()),
    previewRevision: Type.Optional(Type.String()),
    activeImage: Type.Optional(Type.String()),
    previewImage: Type.Optional(Type.String()),
    replicas: Type.Optional(Count("Pods of the active color (scale subresource).")),
    readyReplicas: Type.Optional(Count("Ready pods of the active color.")),
    ready: Type.Optional(Type.String({ description: "readyReplicas/replicas, e.g. 3/3." })),
    selector: Type.Optional(
      Type.String({ description: "Label selector of the active pods (scale subresource)." }),
    ),
    colors: Type.Optional(
      Type.Object(
        { blue: Type.Optional(ColorStatus), green: Type.Optional(ColorStatus) },
        { description: "Per color." },
      ),
    ),
    conditions: Type.Optional(
      Type.Array(Condition, {
        maxItems: 32,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
      }),
    ),
    rollout: Type.Optional(
      Type.Object(
        {
          revision: Type.Optional(Type.String()),
          startedAt: Type.Optional(DateTime("When the rollout of this revision started.")),
          previewReadySince: Type.Optional(DateTime("When the preview became fully ready.")),
          progressedAt: Type.Optional(
            DateTime(
              "When the new color's ready or desired pod count last changed: the progress deadline counts from here.",
            ),
          ),
          promotedAt: Type.Optional(DateTime("When traffic switched to it.")),
          canary: Type.Optional(
            Type.Object(
              {
                step: Count(
                  "The canary step in progress (0-based); the number of steps once they are all done.",
                ),
                weight: Type.Integer({
                  format: "int32",
                  minimum: 0,
                  maximum: 100,
                  description:
                    "The percentage of the route's requests the current step sends to the new color.",
                }),
                stepStartedAt: Type.Optional(
                  DateTime("When the current step began (a pause's duration counts from here)."),
                ),
              },
              { description: "Where the canary steps (spec.strategy.canary) stand: a restart resumes here." },
            ),
          ),
        },
        { description: "The rollout in progress or last finished." },
      ),
    ),
    history: Type.Optional(
      Type.Array(
        Type.Object({
          revision: Type.String(),
          image: Type.Optional(Type.String()),
          promotedAt: Type.Optional(DateTime("When it became active.")),
          switchedFrom: Type.Optional(Color("The color active before it.")),
          trigger: Type.Optional(
            StringEnum(TRIGGERS, {
              description:
                "What made it active: FirstDeployment, Approval (bluegreen.io/promote), AutoPromotion, Rollback (a previously promoted revision re-applied), or Recorded (found active without a record, e.g. after a crash).",
            }),
          ),
        }),
        { maxItems: 50, description: "Promoted revisions, newest first, for rollback." },
      ),
    ),
    traffic: Type.Optional(
      Type.Object(
        {
          httpRoute: Type.String({
            description: "The HTTPRoute whose backendRef weights the operator manages.",
          }),
          activeWeight: Type.Optional(
            Type.Integer({
              format: "int32",
              minimum: 0,
              description: "Its weight on the active Service now.",
            }),
          ),
          previewWeight: Type.Optional(
            Type.Integer({
              format: "int32",
              minimum: 0,
              description: "Its weight on the preview Service now.",
            }),
          ),
        },
        { description: "The traffic split the route shows (spec.trafficRouting)." },
      ),
    ),
    gates: Type.Optional(GatesStatus),
    servingPods: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String(),
          color: Color("Its color."),
          ready: Type.Boolean(),
          ip: Type.Optional(Type.String()),
        }),
        { maxItems: 20, description: "Some of the pods behind the active Service." },
      ),
    ),
  },
  { description: "What the operator observed and did." },
);

export type BlueGreenDeploymentStatus = Static<typeof BlueGreenDeploymentStatus>;
export type ColorStatus = Static<typeof ColorStatus>;
export type Condition = Static<typeof Condition>;
export type Color = (typeof COLORS)[number];
export type Phase = (typeof PHASES)[number];
