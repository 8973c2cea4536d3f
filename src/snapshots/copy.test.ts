import { CopySnapshotter } from './copy.ts';
import { runSnapshotterSuite } from './snapshotter.suite.ts';

runSnapshotterSuite('copy', (deps) => new CopySnapshotter(deps));
