/// <reference types="vite/client" />
/**
 * The modules convex-test loads. The docs' `./**\/!(*.*.*)*.*s` matches nothing
 * on this vite; this glob takes every module here, including this file (harmless).
 */
export const modules = import.meta.glob('./**/*.*s');
