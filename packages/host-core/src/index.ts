/** @pocketshell/host-core public surface. */
export {};
