/** @pocketshell/client public surface. */
export {};
