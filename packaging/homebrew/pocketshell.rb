# Homebrew formula for the PocketShell host agent. scripts/package-homebrew.ts
# fills in the version and the sha256 of the published npm tarball; npm then
# installs the matching prebuilt platform package (@pocketshell/darwin-arm64,
# darwin-x64 or linux-*) as an optional dependency, so no compiler is needed.
class Pocketshell < Formula
  desc "Your terminal, from your phone, end-to-end encrypted"
  homepage "https://github.com/pocketshell/pocketshell"
  url "https://registry.npmjs.org/pocketshell/-/pocketshell-0.1.0.tgz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"

  depends_on "node"

  def install
    system "npm", "install", *std_npm_args
    bin.install_symlink libexec.glob("bin/*")
    man1.install libexec/"lib/node_modules/pocketshell/man/pocketshell.1"
  end

  def caveats
    <<~EOS
      Pair a phone and run the agent at login:
        pocketshell pair --relay https://relay.example.org
        pocketshell daemon start
      (or `brew services start pocketshell`).
    EOS
  end

  service do
    run [opt_bin/"pocketshell", "daemon", "run"]
    keep_alive successful_exit: false
    log_path var/"log/pocketshell.log"
    error_log_path var/"log/pocketshell.log"
  end

  test do
    assert_equal version.to_s, shell_output("#{bin}/pocketshell --version").strip
    system bin/"pocketshell", "doctor", "--json"
  end
end
