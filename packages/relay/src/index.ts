/** @pocketshell/relay public surface. */
export {};
