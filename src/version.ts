// The package version, kept in step with package.json (checked by a unit test).
export const VERSION = "0.1.0";
