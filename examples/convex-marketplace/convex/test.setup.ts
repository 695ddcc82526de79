/// <reference types="vite/client" />
// The Convex modules for convex-test (test/*.test.ts): every function file and _generated.
// (The docs' "./**/!(*.*.*)*.*s" pattern matches nothing on this vite.)
export const modules = import.meta.glob('./**/*.*s');
