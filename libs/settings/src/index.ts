/** libs/settings: every environment variable of every role and the one reader that parses them. Only apps import it. */
export * from './settings.ts';
