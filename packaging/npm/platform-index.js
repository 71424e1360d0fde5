// The native parts of pocketshell for one platform, prebuilt: node-pty, the keyring
// binding and node-datachannel live in lib/node_modules; the `pocketshell` launcher
// resolves them from here. Nothing to call.
module.exports = { dir: __dirname };
