# Homebrew formula for the self-hostable PocketShell relay (pure JavaScript on
# node:sqlite). scripts/package-homebrew.ts fills in the version and sha256.
class PocketshellRelay < Formula
  desc "Self-hostable relay for PocketShell: signaling, pairing, presence, TURN credentials"
  homepage "https://github.com/pocketshell/pocketshell"
  url "https://registry.npmjs.org/pocketshell-relay/-/pocketshell-relay-0.1.0.tgz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"

  depends_on "node"

  def install
    system "npm", "install", *std_npm_args
    bin.install_symlink libexec.glob("bin/*")
  end

  service do
    run [opt_bin/"pocketshell-relay", "serve", "--listen", "127.0.0.1:8080", "--data", var/"pocketshell-relay"]
    keep_alive true
    log_path var/"log/pocketshell-relay.log"
    error_log_path var/"log/pocketshell-relay.log"
  end

  test do
    assert_match "usage", shell_output("#{bin}/pocketshell-relay --help")
  end
end
