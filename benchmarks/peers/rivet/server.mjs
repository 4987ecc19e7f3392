// The RivetKit side of the peer benchmark: the same counter as every other system.
// Env: RK_PORT (endpoint port), RK_MODE ("engine" for 2.3.x, "fs" for 2.2.1's
// pure-TypeScript runtime with its file-system driver), RK_SLEEP_MS (sleepy counter idle).
import { actor, setup } from "rivetkit";

const increment = (c, amount) => {
	c.state.count += amount;
	c.broadcast("newCount", c.state.count);
	return c.state.count;
};

const counter = actor({ state: { count: 0 }, actions: { increment } });
const sleepyCounter = actor({
	state: { count: 0 },
	actions: { increment },
	options: { sleepTimeout: Number(process.env.RK_SLEEP_MS ?? 500) },
});

const port = Number(process.env.RK_PORT ?? 6420);
const config =
	process.env.RK_MODE === "fs"
		? { use: { counter, sleepyCounter }, managerPort: port, managerHost: "127.0.0.1" }
		: {
				use: { counter, sleepyCounter },
				startEngine: true,
				engineHost: "127.0.0.1",
				enginePort: port,
				httpPort: port + 5,
				httpHost: "127.0.0.1",
			};
export const registry = setup(config);
registry.start();
