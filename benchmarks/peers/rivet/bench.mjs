// The five workloads of benchmarks/peers/workloads.py, in JavaScript, through
// `rivetkit/client` (RivetKit's own client). Prints one line `RESULT {json}` with raw
// samples; the Python harness computes the statistics.
//   node bench.mjs ENDPOINT CONFIG_JSON WORKLOADS
import { createClient } from "rivetkit/client";

const [endpoint, cfgJson, onlyArg] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
const only = onlyArg.split(",");
const client = createClient(endpoint);
const now = () => performance.now();
const errText = (e) => `${e?.name ?? "Error"}: ${e?.message ?? e}`.slice(0, 300);
const rep = (latencies, elapsedS, target, errors) => ({
	latencies_ms: latencies,
	elapsed_s: elapsedS,
	target,
	errors: errors.length,
	first_error: errors[0] ?? "",
});

// Resolves to "timeout" after `ms`, so no setup step can hang past its budget.
const within = (promise, ms) =>
	Promise.race([promise, new Promise((res) => setTimeout(() => res("timeout"), ms))]);

const handle = (key, sleepy = false) =>
	(sleepy ? client.sleepyCounter : client.counter).getOrCreate([key]);

async function timedSequence(call, seconds) {
	const latencies = [];
	const errors = [];
	const start = now();
	while ((now() - start) / 1000 < seconds) {
		const t = now();
		try {
			await call(1);
		} catch (e) {
			errors.push(errText(e));
			if (errors.length > 20) break;
			continue;
		}
		latencies.push(now() - t);
	}
	return rep(latencies, (now() - start) / 1000, 0, errors);
}

async function sequential(call) {
	for (let i = 0; i < cfg.warmup_calls; i++) await call(1);
	const reps = [];
	for (let r = 0; r < cfg.reps; r++) reps.push(await timedSequence(call, cfg.rep_seconds));
	return reps;
}

// Create and call each actor once, `callers` at a time, retrying a failure once, within
// the setup budget.
async function warmActors(keys, sleepy = false) {
	const handles = keys.map((k) => handle(k, sleepy));
	const errors = [];
	let ok = 0;
	let next = 0;
	const start = now();
	const worker = async () => {
		while (next < handles.length && (now() - start) / 1000 < cfg.connect_budget_s) {
			const h = handles[next++];
			for (let attempt = 0; attempt < 2; attempt++) {
				try {
					await h.increment(1);
					ok++;
					break;
				} catch (e) {
					errors.push(errText(e));
				}
			}
		}
	};
	await Promise.all(Array.from({ length: cfg.callers }, worker));
	if (ok < handles.length)
		throw new Error(`warm-up: ${handles.length - ok} of ${handles.length} actors could not be created (first error: ${errors[0]})`);
	return handles;
}

async function concurrent() {
	const handles = await warmActors(Array.from({ length: cfg.actors }, (_, i) => `${cfg.run_id}-conc-${i}`));
	const reps = [];
	for (let r = 0; r < cfg.reps; r++) {
		const latencies = [];
		const errors = [];
		let counter = 0;
		const start = now();
		const worker = async () => {
			while ((now() - start) / 1000 < cfg.rep_seconds && errors.length <= 20) {
				const h = handles[counter % handles.length];
				counter++;
				const t = now();
				try {
					await h.increment(1);
				} catch (e) {
					errors.push(errText(e));
					continue;
				}
				latencies.push(now() - t);
			}
		};
		await Promise.all(Array.from({ length: cfg.callers }, worker));
		reps.push(rep(latencies, (now() - start) / 1000, 0, errors));
	}
	return reps;
}

async function fresh() {
	for (let i = 0; i < Math.min(20, cfg.warmup_calls); i++)
		await handle(`${cfg.run_id}-fresh-warm-${i}`)
			.increment(1)
			.catch(() => {}); // warm-up only; the measured run counts errors
	const latencies = [];
	const errors = [];
	let next = 0;
	const start = now();
	const worker = async () => {
		while (next < cfg.fresh_n && (now() - start) / 1000 < cfg.fresh_budget_s) {
			const i = next++;
			const t = now();
			try {
				await handle(`${cfg.run_id}-fresh-${i}`).increment(1);
			} catch (e) {
				errors.push(errText(e));
				if (errors.length > 50) return;
				continue;
			}
			latencies.push(now() - t);
		}
	};
	await Promise.all(Array.from({ length: cfg.callers }, worker));
	return [rep(latencies, (now() - start) / 1000, cfg.fresh_n, errors)];
}

async function broadcast() {
	const key = `${cfg.run_id}-bcast`;
	const trigger = handle(key);
	await trigger.increment(0);
	const received = new Map();
	let expected = -1;
	let resolveDone = () => {};
	const conns = [];
	const start = now();
	try {
		// Open a few at a time; an action on each proves it is subscribed and live.
		const batch = 16;
		for (let first = 0; first < cfg.clients; first += batch) {
			if ((now() - start) / 1000 > cfg.connect_budget_s)
				throw new Error(`connected only ${first} of ${cfg.clients} clients in ${cfg.connect_budget_s} s`);
			const opened = [];
			for (let i = first; i < Math.min(cfg.clients, first + batch); i++) {
				const conn = handle(key).connect();
				conn.on("newCount", (value) => {
					if (value === expected && !received.has(i)) {
						received.set(i, now());
						if (received.size === cfg.clients) resolveDone();
					}
				});
				opened.push(conn);
				conns.push(conn);
			}
			const left = cfg.connect_budget_s * 1000 - (now() - start);
			if ((await within(Promise.all(opened.map((c) => c.increment(0))), left)) === "timeout")
				throw new Error(`connected only ${first} of ${cfg.clients} clients in ${cfg.connect_budget_s} s`);
		}
		const reps = [];
		for (let r = 0; r <= cfg.broadcasts; r++) {
			expected = -1; // nothing matches while the current value is read
			received.clear();
			expected = (await trigger.increment(0)) + 1;
			const done = new Promise((res) => {
				resolveDone = res;
			});
			const t0 = now();
			await trigger.increment(1);
			const errors = [];
			const timeout = new Promise((res) => setTimeout(() => res("timeout"), 30_000));
			if ((await Promise.race([done, timeout])) === "timeout")
				errors.push(`${cfg.clients - received.size} clients got no event in 30 s`);
			if (r === 0) continue;
			const lat = [...received.values()].map((t) => t - t0).sort((a, b) => a - b);
			const elapsed = lat.length ? lat[lat.length - 1] / 1000 : 0;
			const out = rep(lat, elapsed, cfg.clients, errors);
			out.throughput = elapsed > 0 ? lat.length / elapsed : null;
			reps.push(out);
		}
		return reps;
	} finally {
		await within(Promise.allSettled(conns.map((c) => c.dispose())), 10_000);
	}
}

async function coldWake() {
	const handles = await warmActors(Array.from({ length: cfg.wakes }, (_, i) => `${cfg.run_id}-sleepy-${i}`), true);
	await new Promise((res) => setTimeout(res, cfg.sleep_wait_s * 1000));
	const latencies = [];
	const errors = [];
	for (const h of handles) {
		const t = now();
		try {
			await h.increment(1);
			latencies.push(now() - t);
		} catch (e) {
			errors.push(errText(e));
		}
	}
	const total = latencies.reduce((a, b) => a + b, 0) / 1000;
	return [rep(latencies, total, cfg.wakes, errors)];
}

const out = {};
for (const name of only) {
	try {
		if (name === "w1_http") {
			const h = handle(`${cfg.run_id}-seq`);
			out[name] = { reps: await sequential((a) => h.increment(a)) };
		} else if (name === "w1_ws") {
			const conn = handle(`${cfg.run_id}-seq-ws`).connect();
			try {
				out[name] = { reps: await sequential((a) => conn.increment(a)) };
			} finally {
				await conn.dispose();
			}
		} else if (name === "w2_concurrent") out[name] = { reps: await concurrent() };
		else if (name === "w3_fresh") out[name] = { reps: await fresh() };
		else if (name === "w4_broadcast") out[name] = { reps: await broadcast() };
		else if (name === "w5_cold_wake") out[name] = { reps: await coldWake() };
	} catch (e) {
		out[name] = { status: "failed", note: errText(e) };
	}
}
console.log(`RESULT ${JSON.stringify(out)}`);
process.exit(0);
