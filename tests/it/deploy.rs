//! The compose stack, checked without a Docker engine: docker-compose.yml,
//! deploy/Dockerfile, .env.example, the Prometheus config and the Grafana
//! dashboard against arus's own settings, commands, jobs and metrics.
//! Every arus service's environment (interpolated as compose would, from
//! .env.example with its blanks filled) is loaded by `arus config show`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::common::arus_bin;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value.apply_merge().unwrap_or_else(|e| panic!("{path}: merge keys: {e}"));
    value
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Every arus setting, as its `ARUS_*` variable.
fn settings() -> BTreeSet<String> {
    let config = serde_json::to_value(arus_schemas::Config::default()).unwrap();
    config.as_object().unwrap().keys().map(|k| format!("ARUS_{}", k.to_uppercase())).collect()
}

/// `.env.example` as compose reads it: `NAME=value` lines (commented ones not).
fn env_example() -> (BTreeMap<String, String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join(".env.example")).unwrap();
    let mut set = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for line in text.lines() {
        let (line, commented) = match line.strip_prefix("# ") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let Some((name, value)) = line.split_once('=') else { continue };
        if !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') || name.is_empty() {
            continue;
        }
        if name.starts_with("ARUS_") {
            assert!(listed.insert(name.to_owned()), ".env.example lists {name} twice");
        }
        if !commented {
            set.insert(name.to_owned(), value.to_owned());
        }
    }
    (set, listed)
}

/// Compose's interpolation: `$$`, `${NAME}`, `${NAME:-default}`, `${NAME:?message}`.
fn interpolate(text: &str, vars: &BTreeMap<String, String>, used: &mut BTreeSet<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body) = rest.strip_prefix("${") else { return Err(format!("bare $ in {text:?}")) };
        let end = body.find('}').ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        let expr = &body[..end];
        rest = &body[end + 1..];
        let (name, op) = match expr.find(":-").or_else(|| expr.find(":?")) {
            Some(i) => (&expr[..i], Some((&expr[i..i + 2], &expr[i + 2..]))),
            None => (expr, None),
        };
        used.insert(name.to_owned());
        let value = vars.get(name).filter(|v| !v.is_empty()).cloned();
        match (value, op) {
            (Some(v), _) => out.push_str(&v),
            (None, Some((":-", default))) => out.push_str(default),
            (None, Some((_, message))) => return Err(format!("{name}: {message}")),
            (None, None) => return Err(format!("{name} is not set and has no default")),
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The environment of a service, as strings, interpolated.
fn environment(service: &Value, vars: &BTreeMap<String, String>, used: &mut BTreeSet<String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Some(map) = service.get("environment").and_then(Value::as_mapping) {
        for (k, v) in map {
            let value = interpolate(&str_of(v), vars, used).unwrap();
            env.insert(str_of(k), value);
        }
    }
    env
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap_or_else(|e| panic!("{addr}: {e}"))
}

#[test]
fn the_compose_stack_matches_arus_settings_jobs_ports_and_volumes() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    let settings = settings();
    let (mut vars, listed) = env_example();

    // .env.example: every setting, nothing else under ARUS_.
    let unlisted: Vec<_> = settings.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&settings).collect();
    assert!(unlisted.is_empty() && unknown.is_empty(), ".env.example: missing {unlisted:?}, unknown {unknown:?}");

    // The values a person must set are blank in .env.example: compose refuses to start without them.
    let blanks: Vec<String> = vars.iter().filter(|(_, v)| v.is_empty()).map(|(k, _)| k.clone()).collect();
    assert!(!blanks.is_empty());
    let mut refused = BTreeSet::new();
    let mut used = BTreeSet::new();
    for (name, service) in services {
        if let Some(map) = service.get("environment").and_then(Value::as_mapping) {
            for v in map.values() {
                if let Err(e) = interpolate(&str_of(v), &vars, &mut used) {
                    refused.insert(e.split(':').next().unwrap().to_owned());
                    let _ = name;
                }
            }
        }
    }
    assert_eq!(refused, blanks.iter().cloned().collect(), "compose refuses exactly the blank secrets");
    for b in &blanks {
        vars.insert(b.clone(), format!("secret-value-for-{b}-0123456789abcdef"));
    }

    let job_names: BTreeSet<String> = arus_stream_jobs::JOB_NAMES.iter().map(|s| s.to_string()).collect();
    let mut jobs_run = BTreeMap::<String, String>::new();
    let mut arus_services = Vec::new();
    let declared_volumes: BTreeSet<String> = compose["volumes"].as_mapping().unwrap().keys().map(str_of).collect();
    let mut used_volumes = BTreeSet::new();
    let mut used = BTreeSet::new();
    for (name, service) in services {
        let name = str_of(name);
        for dep in service.get("depends_on").and_then(Value::as_mapping).map(|m| m.keys().map(str_of).collect::<Vec<_>>()).unwrap_or_default() {
            assert!(services.contains_key(dep.as_str()), "{name} depends on unknown service {dep}");
        }
        for v in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
            let source = str_of(v).split(':').next().unwrap().to_owned();
            if source.starts_with("./") {
                assert!(root().join(&source).exists(), "{name} mounts {source}, which is not in the repository");
            } else {
                assert!(declared_volumes.contains(&source), "{name} uses volume {source}, not declared");
                used_volumes.insert(source);
            }
        }
        if service.get("image").map(str_of).as_deref() != Some("arus:local") {
            continue;
        }
        assert_eq!(str_of(&service["build"]["dockerfile"]), "deploy/Dockerfile", "{name}");
        assert!(service.get("container_name").is_none(), "{name}: a fixed container name cannot be scaled");
        let command: Vec<String> = service["command"].as_sequence().unwrap().iter().map(str_of).collect();
        // The command is one arus has.
        let help = std::process::Command::new(arus_bin()).args(&command[..command.len().min(2)]).arg("--help").output().unwrap();
        assert!(help.status.success(), "{name}: `arus {}` is not a command: {}", command.join(" "), String::from_utf8_lossy(&help.stderr));
        if command[0] == "job" {
            assert!(job_names.contains(&command[1]), "{name} runs unknown job {}", command[1]);
            assert!(jobs_run.insert(command[1].clone(), name.clone()).is_none(), "job {} runs in two services", command[1]);
            assert!(service.get("ports").is_none(), "{name}: a job publishes no host port (it is scaled)");
        }
        // Its settings are arus's, and arus loads them.
        let env = environment(service, &vars, &mut used);
        for key in env.keys().filter(|k| k.starts_with("ARUS_")) {
            assert!(settings.contains(key), "{name} sets {key}, which arus does not have");
        }
        let mut cmd = std::process::Command::new(arus_bin());
        cmd.args(["config", "show"]).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in vars.iter().filter(|(k, _)| k.starts_with("ARUS_")) {
            cmd.env(k, v);
        }
        let shown = cmd.envs(&env).output().unwrap();
        assert!(shown.status.success(), "{name}: arus refuses its settings: {}", String::from_utf8_lossy(&shown.stderr));
        let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert!(shown.contains("consumer_mode = \"group\""), "{name}: every process joins its job's group:\n{shown}");
        assert!(shown.contains(&format!("lake_uri = \"s3://{}/lake\"", vars["MINIO_BUCKET"])), "{name}: the lake is in MinIO:\n{shown}");
        arus_services.push((name, command, env, service.clone()));
    }
    let missing: Vec<_> = job_names.iter().filter(|j| !jobs_run.contains_key(*j)).collect();
    assert!(missing.is_empty(), "jobs without a service: {missing:?}");
    assert_eq!(used_volumes, declared_volumes, "every declared volume is used");
    for var in &used {
        assert!(vars.contains_key(var) || std::fs::read_to_string(root().join("docker-compose.yml")).unwrap().contains(&format!("{var}:-")), "${{{var}}} is neither in .env.example nor defaulted");
    }

    // Ports: the API's and the Postgres protocol's published ports are where serve listens.
    let (_, _, serve_env, serve) = arus_services.iter().find(|(n, ..)| n == "serve").expect("a serve service");
    let published: Vec<String> = serve["ports"].as_sequence().unwrap().iter().map(str_of).collect();
    for setting in ["ARUS_HTTP_ADDR", "ARUS_PG_ADDR"] {
        let port = port_of(&serve_env[setting]);
        assert!(published.iter().any(|p| p.ends_with(&format!(":{port}"))), "serve listens on {port} ({setting}) but publishes {published:?}");
    }
    let job_port = port_of(&arus_services.iter().find(|(_, c, ..)| c[0] == "job").unwrap().2["ARUS_JOB_HTTP_ADDR"]);

    // The image: multi-stage, small base, not root, exposing those ports.
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(stages.last().unwrap().contains("-slim"), "a slim runtime base: {stages:?}");
    let runtime = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    assert!(runtime.contains("COPY --from=build"), "the runtime stage copies only the built binary");
    let user = runtime.lines().filter_map(|l| l.strip_prefix("USER ")).last().expect("a USER in the runtime stage");
    assert!(!["root", "0", "0:0"].contains(&user.trim()), "runs as {user}");
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/arus\"]"));
    let exposed: BTreeSet<u16> = runtime.lines().filter_map(|l| l.strip_prefix("EXPOSE ")).flat_map(|l| l.split_whitespace().map(|p| p.parse::<u16>().unwrap())).collect();
    for port in [port_of(&serve_env["ARUS_HTTP_ADDR"]), port_of(&serve_env["ARUS_PG_ADDR"]), job_port] {
        assert!(exposed.contains(&port), "the image does not expose {port}: {exposed:?}");
    }

    // Prometheus scrapes serve and every process that serves job endpoints.
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let mut scraped = BTreeSet::new();
    for job in prometheus["scrape_configs"].as_sequence().unwrap() {
        for sc in job.get("static_configs").and_then(Value::as_sequence).into_iter().flatten() {
            for t in sc["targets"].as_sequence().unwrap() {
                let t = str_of(t);
                let (host, port) = t.split_once(':').unwrap();
                let http = port_of(&arus_services.iter().find(|(n, ..)| n == host).unwrap_or_else(|| panic!("scrape target {t}: no such arus service")).2["ARUS_HTTP_ADDR"]);
                assert_eq!(port.parse::<u16>().unwrap(), http, "{t}");
                scraped.insert(host.to_owned());
            }
        }
        for sd in job.get("dns_sd_configs").and_then(Value::as_sequence).into_iter().flatten() {
            assert_eq!(sd["port"].as_u64(), Some(u64::from(job_port)));
            scraped.extend(sd["names"].as_sequence().unwrap().iter().map(str_of));
        }
    }
    let processes: BTreeSet<String> = arus_services.iter().filter(|(_, c, ..)| c[0] == "serve" || c[0] == "job" || c[..] == ["lake", "upkeep"]).map(|(n, ..)| n.clone()).collect();
    assert_eq!(scraped, processes, "Prometheus scrapes every long-running arus process");

    // Grafana: provisioned from the repository, and the dashboard asks only for metrics arus records.
    let grafana = &services["grafana"];
    let mounts: Vec<String> = grafana["volumes"].as_sequence().unwrap().iter().map(str_of).collect();
    assert!(mounts.iter().any(|m| m.starts_with("./deploy/grafana/provisioning:")), "{mounts:?}");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join("deploy/grafana/dashboards/arus.json")).unwrap()).unwrap();
    let recorded = std::fs::read_to_string(root().join("serving/src/metrics.rs")).unwrap();
    let mut titles = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        titles.push(panel["title"].as_str().unwrap().to_lowercase());
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for metric in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("arus_")) {
                let base = metric.trim_end_matches("_bucket");
                assert!(recorded.contains(&format!("\"{base}\"")), "the dashboard asks for {metric}, which arus does not describe");
            }
        }
    }
    for wanted in ["throughput", "lag", "freshness", "dead letters", "latency"] {
        assert!(titles.iter().any(|t| t.contains(wanted)), "no {wanted} panel: {titles:?}");
    }

    // The llm profile brings Ollama.
    let ollama = &services["ollama"];
    assert_eq!(ollama["profiles"].as_sequence().map(|p| p.iter().map(str_of).collect::<Vec<_>>()), Some(vec!["llm".to_owned()]));
    // Kafka in KRaft mode from the official image; MinIO with its bucket made at start.
    assert!(str_of(&services["kafka"]["image"]).starts_with("apache/kafka:"));
    assert!(str_of(&services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]).contains("controller"));
    assert!(str_of(&services["minio-init"]["command"][0]).contains("mc mb"));
    assert!(Path::new(&root().join("deploy/grafana/provisioning/datasources/prometheus.yml")).exists());
}
