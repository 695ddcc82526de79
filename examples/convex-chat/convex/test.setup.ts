/// <reference types="vite/client" />
/**
 * The Convex modules for convex-test: `convexTest(schema, modules)`.
 * (The file name has two dots, so Convex itself never deploys it.)
 */
export const modules = import.meta.glob('./**/*.*s');
