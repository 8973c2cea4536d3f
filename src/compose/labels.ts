/**
 * The labels Docker Compose puts on what it creates, and reads back to find a project's containers, networks and
 * volumes. Berth writes and reads the same ones, so `docker compose` and `berth compose` see the same project.
 */
export const PROJECT = 'com.docker.compose.project';
export const SERVICE = 'com.docker.compose.service';
export const NUMBER = 'com.docker.compose.container-number';
export const ONEOFF = 'com.docker.compose.oneoff';
export const CONFIG_HASH = 'com.docker.compose.config-hash';
export const WORKING_DIR = 'com.docker.compose.project.working_dir';
export const CONFIG_FILES = 'com.docker.compose.project.config_files';
export const ENV_FILE = 'com.docker.compose.project.environment_file';
export const DEPENDS_ON = 'com.docker.compose.depends_on';
export const VERSION = 'com.docker.compose.version';
export const IMAGE = 'com.docker.compose.image';
export const REPLACE = 'com.docker.compose.replace';
export const SLUG = 'com.docker.compose.slug';
export const NETWORK = 'com.docker.compose.network';
export const VOLUME = 'com.docker.compose.volume';

/**
 * The compose version written in `com.docker.compose.version`: the Docker Compose release whose behaviour this
 * follows. Tools compare it as a version number, so it is one.
 */
export const COMPOSE_VERSION = '2.40.3';

/** The `label=` filter that selects a project's resources. */
export function projectFilter(project: string): string {
  return `${PROJECT}=${project}`;
}
