#!/usr/bin/env node
// A `solc` command line around solcjs (npm `solc`, wasm), enough for ape-solidity and crytic-compile:
//   --version                   answered at once, without loading the compiler
//   --standard-json             standard JSON on stdin, imports resolved under --base-path / --include-path
//   --combined-json KEYS FILE…  the legacy combined output that crytic-compile (Slither) asks for
// --allow-paths and other flags that only widen file access are accepted and ignored.
"use strict";
const fs = require("fs");
const path = require("path");

const VERSION = require("solc/package.json").version;

function parseArgs(argv) {
  const opts = { basePath: null, includePaths: [], files: [], flags: new Set(), combined: null, remappings: [] };
  const valued = new Set(["--base-path", "--include-path", "--allow-paths", "--combined-json", "--evm-version", "--optimize-runs"]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (valued.has(arg)) {
      const value = argv[++i];
      if (arg === "--base-path") opts.basePath = value;
      else if (arg === "--include-path") opts.includePaths.push(value);
      else if (arg === "--combined-json") opts.combined = value;
      else opts.flags.add(`${arg}=${value}`);
    } else if (arg.startsWith("--")) {
      opts.flags.add(arg);
    } else if (arg.includes("=") && !arg.endsWith(".sol")) {
      opts.remappings.push(arg);
    } else {
      opts.files.push(arg);
    }
  }
  return opts;
}

function importResolver(opts) {
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths];
  return (importPath) => {
    const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((root) => path.resolve(root, importPath));
    for (const candidate of candidates) {
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
  };
}

function loadCompiler() {
  // solcjs prints a notice on stdout when SMT is unavailable; keep stdout for JSON only.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    return require("solc");
  } finally {
    process.stdout.write = write;
  }
}

function standardJson(opts) {
  const input = fs.readFileSync(0, "utf8");
  const solc = loadCompiler();
  process.stdout.write(solc.compile(input, { import: importResolver(opts) }));
}

function combinedJson(opts) {
  const keys = opts.combined.split(",");
  const sources = {};
  for (const file of opts.files) sources[file] = { content: fs.readFileSync(file, "utf8") };
  const evmVersion = [...opts.flags].find((f) => f.startsWith("--evm-version="));
  const settings = {
    remappings: opts.remappings,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode", "evm.deployedBytecode", "metadata", "devdoc", "userdoc"], "": ["ast"] } },
  };
  if (evmVersion) settings.evmVersion = evmVersion.split("=")[1];
  const solc = loadCompiler();
  const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings }), { import: importResolver(opts) }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) {
    process.stderr.write(errors.map((e) => e.formattedMessage).join("\n"));
    process.exit(1);
  }
  const contracts = {};
  for (const [file, byName] of Object.entries(output.contracts || {})) {
    for (const [name, c] of Object.entries(byName)) {
      const entry = {};
      if (keys.includes("abi")) entry.abi = c.abi;
      if (keys.includes("bin")) entry.bin = c.evm.bytecode.object;
      if (keys.includes("bin-runtime")) entry["bin-runtime"] = c.evm.deployedBytecode.object;
      if (keys.includes("srcmap")) entry.srcmap = c.evm.bytecode.sourceMap;
      if (keys.includes("srcmap-runtime")) entry["srcmap-runtime"] = c.evm.deployedBytecode.sourceMap;
      if (keys.includes("userdoc")) entry.userdoc = c.userdoc;
      if (keys.includes("devdoc")) entry.devdoc = c.devdoc;
      if (keys.includes("hashes")) entry.hashes = c.evm.methodIdentifiers;
      if (keys.includes("metadata")) entry.metadata = c.metadata;
      contracts[`${file}:${name}`] = entry;
    }
  }
  const sourceList = Object.keys(output.sources || {});
  const astSources = {};
  for (const [file, s] of Object.entries(output.sources || {})) astSources[file] = { AST: s.ast, id: s.id };
  process.stdout.write(JSON.stringify({ contracts, sourceList, sources: astSources, version: solc.version() }));
}

const opts = parseArgs(process.argv.slice(2));
if (opts.flags.has("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${VERSION}+commit.wasm.Emscripten.clang\n`);
} else if (opts.flags.has("--standard-json")) {
  standardJson(opts);
} else if (opts.combined) {
  combinedJson(opts);
} else {
  process.stderr.write("usage: solc --version | --standard-json [--base-path P] [--include-path P] | --combined-json KEYS FILES\n");
  process.exit(2);
}
