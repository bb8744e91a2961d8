import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with the plain line CI reads: `tests: N passed, N failed, N skipped`, and
 * `, N failed files` when a file failed outside its tests (a hook or an import threw), so the line
 * never says "0 failed" for a red run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let failedFiles = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      const ownFailures = [...module.children.allTests()].filter((t) => t.result().state === 'failed');
      if (module.state() === 'failed' && ownFailures.length === 0) failedFiles++;
    }
    const files = failedFiles > 0 ? `, ${failedFiles} failed file${failedFiles === 1 ? '' : 's'}` : '';
    console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped${files}`);
  }
}
