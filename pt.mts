const root = process.argv[2];
const { parseThroughput } = await import(`${root}/bench/parse.ts`);
const out: number[] = [];
for (let i = 0; i < 4; i++) out.push(Math.round((await parseThroughput(process.argv[3], 'scanner')).mbPerSecond));
console.log(root, out.join(' '));
