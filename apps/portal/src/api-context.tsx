/** The Api instance for the tree, and the signed-in state. */
import { createContext, useContext } from 'react';
import type { Api } from './api/client.ts';

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiContext.Provider>');
  return api;
}
