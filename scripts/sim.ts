// The seeded Raft simulation, for as many seeds as asked (CI runs a fixed 2,000 in `npm test`):
//   bun scripts/sim.ts --seeds 20000 [--start 1] [--members 3|5] [--verbose] [--history]
// Every failing seed is printed with the one command that replays it.
import "../internal/raft/sim/cli.ts";
