/** A container's state as stored and as `inspect` shows it (Docker's `State`). */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthLog {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface ContainerState {
  Status: ContainerStatus;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  RestartCount: number;
  /** The user stopped it (stop/kill): `unless-stopped` and `always` then do not restart it on daemon start. */
  StoppedByUser: boolean;
  Health?: { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log: HealthLog[] };
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
    OOMKilled: false,
    RestartCount: 0,
    StoppedByUser: false,
  };
}

/** Docker's `ps` STATUS column: "Up 2 minutes", "Exited (0) 3 seconds ago", "Created". */
export function statusText(s: ContainerState, now = Date.now()): string {
  const ago = (iso: string) => humanDuration(now - Date.parse(iso));
  switch (s.Status) {
    case 'created':
      return 'Created';
    case 'running':
    case 'paused': {
      const health = s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : '';
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Status === 'paused' ? ' (Paused)' : health}`;
    }
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
  }
}

/** go-units HumanDuration: whole seconds and minutes truncated, hours rounded, as Go does. */
export function humanDuration(ms: number): string {
  const s = Math.trunc(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.trunc(ms / 60000);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.trunc(ms / 3600000 + 0.5);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.trunc(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.trunc(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.trunc(h / 24 / 30)} months`;
  return `${Math.trunc(h / 24 / 365)} years`;
}

/** Whether `p` settles within `ms`. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((res) => {
    timer = setTimeout(() => res(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** dockerd's refusal to remove a live container without force, which clients match (one text per state). */
export function removeLiveMessage(id: string, state: ContainerStatus): string {
  return state === 'paused'
    ? `You cannot remove a paused container ${id}. Unpause and then stop the container before attempting removal or force remove`
    : `You cannot remove a ${state} container ${id}. Stop the container before attempting removal or force remove`;
}
