/**
 * For heap-growth.test.ts: with the given growth limit, keeps about 30 MB live while allocating
 * arrays that live long enough to be promoted and then die (as a sync's pages do), and prints the
 * highest heap in use, in bytes.
 */
import { limitHeapGrowth } from '../../../workers/heap-growth.js';

limitHeapGrowth(Number(process.argv[2]));
const live = Array.from({ length: 300_000 }, (_, i) => ({ id: `live${i}` }));
const held: unknown[] = [];
let maxUsed = 0;
for (let round = 0; round < 400; round++) {
  held.push(Array.from({ length: 20_000 }, (_, i) => ({ a: i, b: `p${i}` })));
  if (held.length > 8) held.shift();
  maxUsed = Math.max(maxUsed, process.memoryUsage().heapUsed);
}
console.log(JSON.stringify({ maxUsed, live: live.length }));
