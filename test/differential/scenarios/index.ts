/** Every differential scenario, in the order they are reported. */
import type { Scenario } from '../runner.ts';
import { archive } from './archive.ts';
import { clients } from './clients.ts';
import { containers } from './containers.ts';
import { images } from './images.ts';
import { resources } from './resources.ts';
import { streams } from './streams.ts';
import { system } from './system.ts';

export const SCENARIOS: Scenario[] = [
  ...system,
  ...containers,
  ...streams,
  ...archive,
  ...images,
  ...resources,
  ...clients,
];
