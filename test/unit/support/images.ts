/** Image references for the admission tests (test/unit/api-rules.test.ts, test/e2e/admission.test.ts). */

/** Image references no runtime can pull, each for a reason people hit. */
export const BAD_IMAGES = [
  "MyApp:v1", // capitals in the repository
  "web:", // an empty tag
  "web:v1:v2", // two tags
  "https://registry.example.com/web:v1", // a URL, not a reference
  "web v1", // a space
  "web:v1 ", // a trailing space
  "web@sha256:abc123", // a digest too short
  "web:-v1", // a tag starting with '-'
  "registry.example.com//web:v1", // an empty path component
  "web/", // a trailing '/'
  `web:${"x".repeat(129)}`, // a tag over 128 characters
];
/** References that are right, from the shortest to the longest forms. */
export const GOOD_IMAGES = [
  "web",
  "web:v1",
  "myregistry.com/my-awesome-app:v1",
  "localhost:5000/team/web:1.2.3",
  "registry.example.com:443/a/b/c__d.e-f:V1_x",
  `web@sha256:${"a".repeat(64)}`,
  `registry.example.com/web:v1@sha256:${"0123456789abcdef".repeat(4)}`,
  "[fd00::1]:5000/web:v1",
];
