//! A real Redis server of a test's own: `redis-server` (Debian's; `scripts/setup.sh --test`
//! installs it) on a free loopback port in a temporary directory, nothing persisted, stopped
//! when dropped. Each cluster test gets its own, so one test restarting Redis or killing its
//! subscriptions does not disturb another.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct TestRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    server: Option<Child>,
}

impl TestRedis {
    pub fn start() -> TestRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = TestRedis {
            port,
            dir: tempfile::tempdir().unwrap(),
            server: None,
        };
        redis.launch();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server and returns once it says it accepts connections.
    fn launch(&mut self) {
        let mut server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-server runs (scripts/setup.sh --test installs it)");
        let stdout = server.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("Ready to accept connections"));
        assert!(ready, "redis-server on port {} did not start", self.port);
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.server = Some(server);
    }

    /// Kills the server (as a crash would: no goodbye to its clients) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    /// Kills the server and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Runs a command against the server, as an operator would with `redis-cli`.
    pub async fn command(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query_async(&mut connection).await.unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
