import { inject } from 'vitest';
import { startRealSaltApi } from '../../setup/salt-master.js';
import { describeSaltApiConformance } from './_conformance.js';

// Real salt-master + salt-api (rest_cherrypy) from PyPI, on 127.0.0.1, no minions, with the
// project's kubernetes_rbac external auth checking tokens against the shared control plane.
describeSaltApiConformance('real salt-api (rest_cherrypy)', () => startRealSaltApi({ kubeconfigPath: inject('kubeconfigPath') }));
