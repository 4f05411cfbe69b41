/** Schema building blocks shared by the spec and status schemas. */
import { FormatRegistry, type SchemaOptions, type TLiteral, type TUnion, Type } from "@sinclair/typebox";

// The CRD says `format: date-time` (RFC 3339); TypeBox only checks formats it knows.
if (!FormatRegistry.Has("date-time")) {
  FormatRegistry.Set("date-time", (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v));
}

/** A union of string literals (the CRD gets `type: string, enum: [...]`). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
}
