/** @pocketshell/host-agent public surface. */
export {};
