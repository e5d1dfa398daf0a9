//! A real nginx in front of test nodes, running deploy/nginx.conf itself: only the lines
//! marked `huddle:node` (the upstream's servers) and `huddle:listen` are replaced with
//! loopback addresses. Debian's nginx (`scripts/setup.sh --test` installs it), started with a
//! prefix and an error log in a temporary directory, never the system's service; stopped when
//! dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

const NGINX: &str = "/usr/sbin/nginx";

pub struct TestNginx {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl TestNginx {
    /// nginx on a free loopback port, proxying to `nodes`. Returns once it listens: the
    /// master binds its sockets before `nginx` returns (it daemonizes after).
    pub fn start(nodes: &[SocketAddr]) -> TestNginx {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let recipe =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .unwrap();
        let mut site = String::new();
        let mut nodes_written = false;
        for line in recipe.lines() {
            if line.contains("# huddle:node") {
                if !nodes_written {
                    for node in nodes {
                        site.push_str(&format!("    server {node};\n"));
                    }
                    nodes_written = true;
                }
            } else if line.contains("# huddle:listen") {
                site.push_str(&format!("    listen {addr};\n"));
            } else {
                site.push_str(line);
                site.push('\n');
            }
        }
        assert!(
            nodes_written,
            "deploy/nginx.conf lists its nodes with `# huddle:node`"
        );
        std::fs::write(dir.path().join("huddle.conf"), site).unwrap();
        // The main configuration a distribution's nginx.conf would give, in the temp dir.
        let d = dir.path().display();
        let main = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             include {d}/huddle.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let nginx = TestNginx { addr, dir };
        let status = nginx.run(&[]);
        assert!(
            status.success(),
            "nginx did not start: {}",
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
        );
        nginx
    }

    fn run(&self, extra: &[&str]) -> std::process::ExitStatus {
        Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.config())
            .arg("-e")
            .arg(self.dir.path().join("error.log"))
            .args(extra)
            .status()
            .expect("nginx runs (scripts/setup.sh --test installs it)")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for TestNginx {
    fn drop(&mut self) {
        // "stop": fast shutdown; waits for nothing the test still needs.
        let _ = self.run(&["-s", "stop"]);
    }
}
